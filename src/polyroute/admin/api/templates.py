"""``/api/admin/provider-templates``: the plugins' presets (system, read-only) and custom
templates, and ``apply``: a new provider from a template with customisations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from polyroute.admin.api import views
from polyroute.admin.api.auth import Admin, Viewer, registry
from polyroute.admin.api.common import (
    IfMatch,
    Paging,
    actor,
    if_match,
    listed,
    request_id,
    set_etag,
)
from polyroute.admin.api.providers import write_provider
from polyroute.admin.api.schemas import (
    ApplyTemplate,
    Page,
    ProviderIn,
    ProviderOut,
    TemplateIn,
    TemplateOut,
    TemplatePatch,
)
from polyroute.admin.errors import RegistryValidationError

__all__ = ["router"]

router = APIRouter(tags=["provider templates"])
# what a template's provider_config may preset (the provider columns)
_PRESETS = {"provider_type", "template", "api_endpoint", "auth_method", "auth_config",
            "capabilities", "settings", "description", "name", "status"}


@router.get("/provider-templates", response_model=Page[TemplateOut],
            summary="List provider templates")
def list_templates(
    request: Request, _: Viewer, paging: Paging,
    system: Annotated[bool | None, Query()] = None,
) -> Page[TemplateOut]:
    rows, total = registry(request).list_page("template", limit=paging.limit,
                                              offset=paging.offset, is_system=system)
    return listed(rows, total, paging, views.template)


@router.post("/provider-templates", status_code=201, response_model=TemplateOut,
             summary="Create a custom template (admin)")
def create_template(request: Request, response: Response, body: TemplateIn, _: Admin
                    ) -> TemplateOut:
    data = body.model_dump(exclude_unset=True)
    data.setdefault("name", body.identifier)
    _check_presets(data.get("provider_config") or {})
    row = registry(request).create("template", data, actor=actor(request),
                                   request_id=request_id(request))
    set_etag(response, row.version)
    return views.template(row)


@router.put("/provider-templates/{template_id}", response_model=TemplateOut,
            summary="Change a custom template (admin, If-Match)")
def update_template(request: Request, response: Response, template_id: str,
                    body: TemplatePatch, _: Admin, if_match_: IfMatch = None) -> TemplateOut:
    version = if_match(if_match_)
    changes = body.model_dump(exclude_unset=True)
    if "provider_config" in changes:
        _check_presets(changes["provider_config"] or {})
    row = registry(request).update("template", template_id, changes, version=version,
                                   actor=actor(request), request_id=request_id(request))
    set_etag(response, row.version)
    return views.template(row)


@router.delete("/provider-templates/{template_id}", status_code=204, response_class=Response,
               summary="Delete a custom template (admin, If-Match)")
def delete_template(request: Request, template_id: str, _: Admin, if_match_: IfMatch = None
                    ) -> Response:
    version = if_match(if_match_)
    registry(request).delete("template", template_id, version=version, actor=actor(request),
                             request_id=request_id(request))
    return Response(status_code=204)


@router.post("/provider-templates/{template_id}/apply", status_code=201,
             response_model=ProviderOut,
             summary="Create a provider from a template, with customisations (admin)")
def apply_template(request: Request, response: Response, template_id: str,
                   body: ApplyTemplate, _: Admin) -> ProviderOut:
    reg = registry(request)
    tpl = reg.get("template", template_id)
    presets = _presets(tpl.provider_config or {}, system=bool(tpl.is_system),
                       template_id=template_id)
    fields = body.model_dump(exclude_unset=True, exclude={"include_default_models"})
    if "api_key" in fields:
        fields["api_key"] = body.api_key
    row = write_provider(request, ProviderIn.model_validate(fields), presets)
    if body.include_default_models:
        for m in tpl.default_models or []:
            if isinstance(m, dict):
                reg.add_model(row.identifier, dict(m), actor=actor(request),
                              request_id=request_id(request))
    row = reg.get("provider", row.identifier)
    set_etag(response, row.version)
    response.headers["Location"] = f"/api/admin/providers/{row.identifier}"
    return views.provider(row, views.credential_masks(reg))


def _check_presets(config: dict[str, Any]) -> None:
    unknown = set(config) - _PRESETS
    if unknown:
        raise RegistryValidationError(
            f"unknown provider_config key(s): {', '.join(sorted(unknown))}", file="registry",
            field="provider_config", fix=f"use {', '.join(sorted(_PRESETS))}")


def _presets(config: dict[str, Any], *, system: bool, template_id: str) -> dict[str, Any]:
    if system:
        # a plugin preset: the provider keeps pointing at the plugin's template by name
        return {"template": template_id}
    return {k: v for k, v in config.items() if k in _PRESETS}

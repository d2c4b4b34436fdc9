"""A provider's models: ``/api/admin/providers/{id}/models`` and ``/api/admin/models/{id}``.

Models are rows of their own, addressed by their numeric id; adding one needs no
provider version (two admins adding models at once keep both), changing or
deleting one needs its own ``If-Match``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from polyroute.admin import Registry
from polyroute.admin.api import views
from polyroute.admin.api.auth import Admin, Operator, Viewer, registry
from polyroute.admin.api.common import IfMatch, Paging, actor, if_match, page, request_id, set_etag
from polyroute.admin.api.errors import ApiError
from polyroute.admin.api.providers import OPERATOR_FIELDS, test_provider
from polyroute.admin.api.schemas import ModelIn, ModelOut, ModelPatch, ModelStatus, Page, TestResult
from polyroute.admin.errors import RegistryNotFoundError
from polyroute.admin.models import Model, Provider

__all__ = ["router"]

router = APIRouter(tags=["models"])
ModelId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _model(reg: Registry, model_id: int) -> tuple[Model, str]:
    with reg.reading() as session:
        row = session.execute(
            select(Model).options(joinedload(Model.provider)).where(Model.id == model_id)
        ).scalar_one_or_none()
        if row is None:
            raise RegistryNotFoundError(f"no model with id {model_id} in the registry",
                                        fix="list a provider's models to see their ids")
        return row, row.provider.identifier


@router.post("/providers/{provider_id}/models", status_code=201, response_model=ModelOut,
             summary="Add a model to a provider (admin)")
def add_model(request: Request, response: Response, provider_id: str, body: ModelIn,
              _: Admin) -> ModelOut:
    reg = registry(request)
    row = reg.add_model(provider_id, body.model_dump(exclude_unset=True),
                        actor=actor(request), request_id=request_id(request))
    set_etag(response, row.version)
    response.headers["Location"] = f"/api/admin/models/{row.id}"
    return views.model(row, provider_id)


@router.get("/providers/{provider_id}/models", response_model=Page[ModelOut],
            summary="List a provider's models")
def list_models(
    request: Request, provider_id: str, _: Viewer, paging: Paging,
    status: Annotated[ModelStatus | None, Query()] = None,
    capability: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[ModelOut]:
    reg = registry(request)
    reg.get("provider", provider_id)  # 404 for an unknown provider, not an empty page
    with reg.reading() as session:
        rows = [m for m in session.execute(
                    select(Model).join(Model.provider)
                    .where(Provider.identifier == provider_id).order_by(Model.id)
                ).scalars()
                if (status is None or m.status == status)
                and (capability is None or capability in (m.capabilities or []))]
    return page(rows, paging, lambda m: views.model(m, provider_id))


@router.get("/models/{model_id}", response_model=ModelOut, summary="Read a model")
def get_model(request: Request, response: Response, model_id: ModelId, _: Viewer) -> ModelOut:
    row, provider_id = _model(registry(request), model_id)
    set_etag(response, row.version)
    return views.model(row, provider_id)


@router.put("/models/{model_id}", response_model=ModelOut,
            summary="Change a model (If-Match; operators: status only)")
def update_model(request: Request, response: Response, model_id: ModelId, body: ModelPatch,
                 who: Operator, if_match_: IfMatch = None) -> ModelOut:
    changes = body.model_dump(exclude_unset=True)
    if not who.may("admin") and set(changes) - OPERATOR_FIELDS:
        raise ApiError(403, "forbidden", "operators may only change a model's status",
                       details={"role": who.role, "required": "admin"},
                       suggestions=["send only {\"status\": ...}, or ask an admin"])
    version = if_match(if_match_)
    reg = registry(request)
    row, provider_id = _model(reg, model_id)
    reg.update("model", f"{provider_id}:{row.name}", changes, version=version,
               actor=actor(request), request_id=request_id(request))
    row, provider_id = _model(reg, model_id)
    set_etag(response, row.version)
    return views.model(row, provider_id)


@router.delete("/models/{model_id}", status_code=204, response_class=Response,
               summary="Delete a model (admin, If-Match)")
def delete_model(request: Request, model_id: ModelId, _: Admin, if_match_: IfMatch = None
                 ) -> Response:
    version = if_match(if_match_)
    reg = registry(request)
    row, provider_id = _model(reg, model_id)
    reg.delete("model", f"{provider_id}:{row.name}", version=version, actor=actor(request),
               request_id=request_id(request))
    return Response(status_code=204)


@router.post("/models/{model_id}/test", response_model=TestResult,
             summary="Test a model: connectivity, auth, availability, a completion (operator)")
def post_model_test(request: Request, model_id: ModelId, _: Operator) -> TestResult:
    row, provider_id = _model(registry(request), model_id)
    return test_provider(request, provider_id, row.name)

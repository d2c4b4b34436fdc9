"""The hostile-body suite a plugin's tests subclass (needs ``hypothesis``, in the dev extra).

Every provider plugin proves the same two things about its parsers: whatever
bytes arrive, only polyroute's typed errors come out (``fuzz.check_provider``
over generated cases), and a nonsensical usage count is refused with an
``InvalidResponseError`` naming provider and model. Subclass ``HostileParsers``
in a ``test_*.py`` module under a name that starts with ``Test``, and set four
class attributes:

```python
from polyroute.testing import fuzz
from polyroute.testing.hostile import HostileParsers

class TestHostile(HostileParsers):
    provider = MyProvider(ProviderSettings(name="my", type="my", api_key="k-fuzz"))
    model = "my-model"
    samples = fuzz.cassette_samples(Path("cassettes/my_wire"))
    usage_field = "completion_tokens"  # the provider's own name for an output count
```
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyroute.providers.base import Provider
from polyroute.testing import fuzz

__all__ = ["HostileParsers"]

UsageCase = tuple[str, Any, "bytes | None", "list[Any] | None"]

# One @given method serves every plugin's subclass: hypothesis' "differing executors"
# check would read that as a mistake.
_SUITE = settings(fuzz.per_family(), suppress_health_check=[HealthCheck.differing_executors])


class HostileParsers:
    """Hostile bodies against every parse entry point of ``provider`` (see module doc)."""

    provider: ClassVar[Provider]
    model: ClassVar[str]
    samples: ClassVar[fuzz.Samples]
    usage_field: ClassVar[str]
    """A usage count field of the provider's bodies, set to nonsense in every sample."""

    _strategies: ClassVar[dict[type, st.SearchStrategy[fuzz.Case]]] = {}

    @classmethod
    def usage_cases(cls) -> list[UsageCase]:
        return fuzz.nonsense_usage_cases(cls.samples, cls.usage_field, cls.provider, cls.model)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        # pytest asks the class too: the cases depend on the subclass's samples
        if "usage_case" in metafunc.fixturenames:
            cases = self.usage_cases()
            metafunc.parametrize("usage_case", cases,
                                 ids=[f"{c[0]}-{i}" for i, c in enumerate(cases)])

    @_SUITE
    @given(data=st.data())
    def test_parsers_raise_only_typed_errors(self, data: st.DataObject) -> None:
        cls = type(self)
        strategy = self._strategies.get(cls)
        if strategy is None:  # built once per plugin, not once per example
            strategy = self._strategies[cls] = fuzz.cases(self.samples)
        fuzz.check_provider(self.provider, self.model, data.draw(strategy))

    def test_usage_cases_cover_responses_and_streams(self) -> None:
        labels = {label[:6] for label, *_ in self.usage_cases()}
        assert labels == {"respon", "stream"}, labels

    def test_nonsense_usage_is_an_invalid_response(self, usage_case: UsageCase) -> None:
        _label, _bad, body, events = usage_case
        err = fuzz.assert_nonsense_usage_refused(self.provider, self.model, body, events)
        assert self.usage_field in str(err)

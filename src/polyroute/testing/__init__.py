"""Test helpers shipped with polyroute, for its own tests and for plugin authors' tests.

- ``standin``: loopback stand-in endpoints with scripted faults (``StandinServer``).
- ``drive``: one provider end to end through the core transport (``chat``, ``stream``).
- ``wire``: a built request through a fresh ``Transport`` (``send``, ``open_stream``),
  answered by a vcrpy cassette, a stand-in or an ``httpx.MockTransport``.
- ``streams``: stream bytes or events through a provider's parser (``parse_stream``).
- ``routers``: a ``Router`` over exactly the given plugins (``router_for``, ``trail``).
- ``sleeps``: ``SleepRecorder``, the router's sleep stand-in.
- ``schema_example``: a deterministic example value for a JSON Schema.

Import the submodule you need; importing this package loads none of them.
"""

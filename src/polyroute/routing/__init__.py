"""Routing: from a request to a plan (``plan``), the guard hooks (``guards``), the
built-in strategies (``strategies``) and the call loop the router drives (``call``,
``streams``).

Nothing is imported here: ``import polyroute.routing.plan`` loads only what the plan
needs, and the package stays out of ``import polyroute``.
"""

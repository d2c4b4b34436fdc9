"""Cost: prices from config overrides, plugin catalogs and the bundled genai-prices
dataset; what a call cost; worst-case estimates for budget reservations.

``from polyroute.cost import cost_of`` is the stable entry point the router uses.
"""

from polyroute.cost.pricing import CostBreakdown, Prices, cost_of

__all__ = ["CostBreakdown", "Prices", "cost_of"]

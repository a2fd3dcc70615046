"""Feed definitions: what a feed measures, in which units, and how its sources map onto readings."""

from citytwin.feeds.definition import FeedDefinition, SourceFormat, VariableSpec
from citytwin.feeds.registry import FeedRegistry, load_feeds

__all__ = ["FeedDefinition", "FeedRegistry", "SourceFormat", "VariableSpec", "load_feeds"]

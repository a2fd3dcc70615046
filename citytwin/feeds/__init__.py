"""Feed definitions: what a feed measures, in which units, and how its sources map onto readings."""

from citytwin.feeds.definition import FeedDefinition, VariableSpec
from citytwin.feeds.registry import FeedRegistry, load_feeds
from citytwin.feeds.source import SourceFormat

__all__ = ["FeedDefinition", "FeedRegistry", "SourceFormat", "VariableSpec", "load_feeds"]

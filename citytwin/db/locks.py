"""The advisory locks (transaction-level) that loads, retention and month builds take."""

# - LOAD_LOCK shared: loads run together; retention (to drop partitions) and month builds (to
#   sum a month no load writes into meanwhile) take it exclusively.
# - FEED_LOCK with the feed's hash: loads of one feed are serialised (they upsert the same
#   sensors and latest states); loads of different feeds overlap. Replays never double-count
#   either way: the readings' primary key lets each reading in once, and only what got in is
#   rolled up.
# - PARTITION_LOCK, only by a load that must create a month's partition.
# - PUBLISH_LOCK from a load's tile-version bump and twin event until its commit: versions and
#   event ids then commit in increasing order, which tile caches and `/twin/stream` rely on.
LOAD_LOCK = 7_402_118
FEED_LOCK = 7_402_120  # first key of the two-key lock (FEED_LOCK, hashtext(feed))
PARTITION_LOCK = 7_402_121
PUBLISH_LOCK = 7_402_122

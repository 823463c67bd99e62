"""How large a period must be for the dense scan, known before anything heavy is loaded: the
engine decides by it, and read_ahead (which runs before polars is imported) too."""

# Below this many invoice rows the polars path is faster: loading the dense scan's compiled
# loop and pyarrow costs more than it saves (bench/README.md, "Where the time goes (reconcile)").
DENSE_MIN_ROWS = 4_000_000

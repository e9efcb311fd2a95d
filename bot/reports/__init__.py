"""Staff reports: summaries, key drivers, journey, segments, quotes, charts, digests and exports."""

"""Reports over run records: leaderboard, ablations, Markdown/HTML/CSV/Parquet and plots."""

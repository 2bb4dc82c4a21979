"""Stage 3: results → reports (CSVs, statistics, run summary, the HTML dataset report)."""

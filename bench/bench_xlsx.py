"""Cost per row of the streamed XLSX writer on rows shaped like an answers export.

python -m bench.bench_xlsx --rows 200000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bot.reports.xlsx_stream import XlsxStreamWriter
from storage.exports import EXPORT_COLUMNS

ROW = [
    123456, "2026-10-01T10:00:00.000000Z", "C-12345", "gold", "delivery", 98765, "experience", 4,
    "The courier was late but friendly", "en", 0, "positive", 0.734, "joy",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.xlsx"
        started = time.process_time()
        with XlsxStreamWriter(path, "answers", EXPORT_COLUMNS) as sheet:
            for _ in range(args.rows):
                sheet.write_row(ROW)
        spent = time.process_time() - started
        size = path.stat().st_size
    per_row = spent / args.rows * 1e6
    print(f"{args.rows:,} rows: {spent:.2f} s CPU, {per_row:.1f} µs/row, {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()

"""How the report shows each status: one colour and one label, shared by the page and its plots."""
from transforms.reports.run_reports import KEPT_LOW
from transforms.store.results import FAILED, LOW_QUALITY, MISSING, SUCCESS

STATUS_COLOURS = {SUCCESS: "#2f9e44", KEPT_LOW: "#f59f00", LOW_QUALITY: "#e8590c", FAILED: "#c92a2a",
                  MISSING: "#868e96"}
STATUS_LABELS = {SUCCESS: "success", KEPT_LOW: "kept low quality", LOW_QUALITY: "low quality", FAILED: "failed",
                 MISSING: "missing"}

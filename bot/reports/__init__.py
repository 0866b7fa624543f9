"""Reports for the office: the monthly report (csv, xlsx, pdf, with a chart) and the
yearly evaluation report of seed 003. Figures come from storage.reporting."""

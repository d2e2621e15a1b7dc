"""Submissions: the CSV and its checks (``submission``), uploading it (``upload``), the ledger of
uploads and their leaderboard scores (``ledger``), and CV against LB (``leaderboard``)."""

"""The work-first desk (工作台): what each role must do today, before the counts."""

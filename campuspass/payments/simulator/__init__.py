"""A local stand-in for WeChat Pay: its keys, its state, its cashier page and its notifications."""

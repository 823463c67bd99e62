"""blanktrack: the e-invoice blank unused number report (空白未使用字軌號碼, MIG E0402), reconciled."""

__version__ = "0.1.0"

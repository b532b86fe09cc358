"""Money is integer fen everywhere; this is the one place it becomes text in yuan."""


def yuan(fen: int) -> str:
    """15000 → "150.00" (exact: no float ever touches an amount)."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"

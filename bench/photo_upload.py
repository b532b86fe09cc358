"""CPU per ID-photo upload (issue 13): the server's check-and-clean step on a phone-like JPEG.

    .venv/bin/python bench/photo_upload.py [--runs 20] [--size 3000x2000]

Measures process CPU time (not wall time) of cleaning one upload, median over the runs, for the
cleaning function the upload service uses. Not run by CI; a manual measurement for the report."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campuspass.settings.test")


def phone_like_jpeg(width: int, height: int) -> bytes:
    """A JPEG with camera-like detail (gradients + noise) and an EXIF orientation, quality 92."""
    from PIL import Image

    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    image = Image.blend(base, noise, 0.35)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the server must turn it upright
    out = BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size", default="3000x2000")
    args = parser.parse_args()
    import django

    django.setup()
    from campuspass.verification import photos

    width, height = (int(v) for v in args.size.split("x"))
    data = phone_like_jpeg(width, height)
    clean = getattr(photos, "clean_id_photo", None) or (lambda d: photos._clean_jpeg(d, "JPEG"))
    clean(data)  # warm up
    samples = []
    for _ in range(args.runs):
        start = time.process_time()
        result = clean(data)
        samples.append((time.process_time() - start) * 1000)
    content = result[0] if isinstance(result, tuple) else result.content
    print(
        json.dumps(
            {
                "size": args.size,
                "input_bytes": len(data),
                "output_bytes": len(content),
                "runs": args.runs,
                "cpu_ms_median": round(statistics.median(samples), 1),
                "cpu_ms_min": round(min(samples), 1),
            }
        )
    )


if __name__ == "__main__":
    main()

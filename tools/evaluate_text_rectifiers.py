"""Text rectifiers read by the OCR engines people use, on held-out text: per kind of text
(flat and warped words and lines) and engine (Tesseract, PP-OCRv4), the raw box crop,
each rectifier and the geometric upper bound, with standard errors.

    python tools/evaluate_text_rectifiers.py [--num-per-kind 100] [--seed 7] \\
        [--rectifiers tps-words ...] [--engines tesseract rapidocr] [--work-dir work_dirs/text_rectifiers]

The logic and all options: :mod:`stn_plugin.experiments.text_rectifier_evaluation` (``--help``).
"""
from stn_plugin.experiments.text_rectifier_evaluation import main

if __name__ == "__main__":
    main()

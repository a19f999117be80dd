# CRNN without rectifier on the synthetic word crops (baseline).
#   python tools/train.py configs/textrecog/crnn_synthetic-words.py
_base_ = ['_base_/crnn.py', '_base_/synthetic-words.py', '_base_/schedule_cpu.py']

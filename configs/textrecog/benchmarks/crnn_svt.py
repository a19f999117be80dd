# Evaluate crnn trained on synthetic words on Street View Text:
#   python tools/test.py configs/textrecog/benchmarks/crnn_svt.py work_dirs/crnn/iter_N.pth
# For the LMDB release use {{_base_.svt_textrecog_test_lmdb}} below instead.
_base_ = ['../crnn_synthetic-words.py', '../_base_/datasets/svt.py']
test_dataloader = dict(dataset={{_base_.svt_textrecog_test}})

# Evaluate crnn trained on synthetic words on SVT-Perspective:
#   python tools/test.py configs/textrecog/benchmarks/crnn_svtp.py work_dirs/crnn/iter_N.pth
# For the LMDB release use {{_base_.svtp_textrecog_test_lmdb}} below instead.
_base_ = ['../crnn_synthetic-words.py', '../_base_/datasets/svtp.py']
test_dataloader = dict(dataset={{_base_.svtp_textrecog_test}})

# Evaluate crnn-tps trained on synthetic words on IIIT5K:
#   python tools/test.py configs/textrecog/benchmarks/crnn-tps_iiit5k.py work_dirs/crnn-tps/iter_N.pth
# For the LMDB release use {{_base_.iiit5k_textrecog_test_lmdb}} below instead.
_base_ = ['../crnn-tps_synthetic-words.py', '../_base_/datasets/iiit5k.py']
test_dataloader = dict(dataset={{_base_.iiit5k_textrecog_test}})

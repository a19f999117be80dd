# CRNN + affine rectifier on the synthetic word crops.
_base_ = ['crnn_synthetic-words.py', '_base_/affine-rectifier.py']
model = dict(preprocessor={{_base_.preprocessor}})

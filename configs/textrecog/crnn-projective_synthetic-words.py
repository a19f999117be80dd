# CRNN + projective rectifier on the synthetic word crops.
_base_ = ['crnn_synthetic-words.py', '_base_/projective-rectifier.py']
model = dict(preprocessor={{_base_.preprocessor}})

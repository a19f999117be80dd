# CRNN + TPS rectifier (20 control points) on the synthetic word crops.
_base_ = ['crnn_synthetic-words.py', '_base_/tps-rectifier.py']
model = dict(preprocessor={{_base_.preprocessor}})

# CRNN + TPS whose rectifier is also supervised by the synthetic generator's known warp
# (loss_warp: where the rectified frame's points lie in each training crop). Test-time
# use is the same as crnn-tps: no warp is needed to predict. Real data without `warp`
# annotations simply adds no warp loss.
_base_ = ['crnn-tps_synthetic-words.py']
model = dict(warp_supervision=dict(weight=1.0))

# "Detect, crop the box, rectify the crop, read it": the word detector's axis-aligned
# boxes sampled from the image (RoIAlign, 32x100) into a crop-level CRNN with its own
# TPS rectifier (configs/textrecog/crnn-tps_synthetic-words.py: 20 control points on
# the top and bottom edges). The rectifier works on the crop, so the polygons are the
# boxes. Not trained end to end: the spotting benchmark (tools/spotting_benchmark.py)
# joins a trained word detector and a trained crop-level recognizer into its weights.
_base_ = ['./faster-rcnn_r18_fpn_crnn_word-scenes.py', '../textrecog/_base_/tps-rectifier.py']

model = dict(roi_head=dict(recognizer=dict(preprocessor={{_base_.preprocessor}})))

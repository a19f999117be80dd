# "Detect the outline, flatten it, read it": the detector and TPS RoI rectifier of
# faster-rcnn_r18_fpn_tps-crnn_word-scenes_outline.py predict each word's polygon; the
# polygon is flattened geometrically (a thin-plate spline between its top and bottom
# edges, predict_crops='polygons', as the teacher-forced training crops are) and read
# by a crop-level CRNN. Not trained end to end: the spotting benchmark
# (tools/spotting_benchmark.py) joins a trained outline spotter's detector and
# rectifier with a trained crop-level recognizer into its weights.
_base_ = './faster-rcnn_r18_fpn_tps-crnn_word-scenes_outline.py'

model = dict(roi_head=dict(predict_crops='polygons'))

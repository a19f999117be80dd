# End-to-end text spotting without rectification: the spotter of
# faster-rcnn_r18_fpn_tps-crnn_word-scenes.py with each word sampled from the image
# along its axis-aligned box (RoIAlign, 32x100) instead of through a TPS RoI rectifier.
# Its polygons are the boxes. The unrectified variant of the spotting benchmark
# (tools/spotting_benchmark.py); with a crop-level CRNN's weights (and no end-to-end
# training) it is also the "detect, crop the box, read it" pipeline.
_base_ = './faster-rcnn_r18_fpn_tps-crnn_word-scenes.py'

model = dict(
    roi_head=dict(
        recog_roi_extractor=dict(
            _delete_=True,
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=(32, 100), sampling_ratio=2),
            out_channels=3, featmap_strides=[1])))

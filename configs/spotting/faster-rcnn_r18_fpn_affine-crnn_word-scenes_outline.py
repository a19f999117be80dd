# End-to-end text spotting through an affine RoI rectifier whose four crop corners are
# supervised by the corners of each word's annotated polygon (loss_outline), the
# recognizer also reading the words flattened along their polygons (recog_geometry=
# 'both'); otherwise faster-rcnn_r18_fpn_tps-crnn_word-scenes_outline.py. Its polygons
# are parallelograms: it can follow rotated and sheared words, not curved ones.
_base_ = './faster-rcnn_r18_fpn_tps-crnn_word-scenes_outline.py'

model = dict(
    roi_head=dict(
        recog_roi_extractor=dict(
            _delete_=True,
            type='AffineRoIRectifier',
            family='affine',
            roi_layer=dict(type='RoIAlign', output_size=(32, 100), sampling_ratio=2),
            out_channels=3, featmap_strides=[1],
            loc_net=dict(type='conv', channels=(16, 32, 64), hidden_dims=(128, ), norm=True),
            loc_input_size=(32, 64), context_factor=1.2)))

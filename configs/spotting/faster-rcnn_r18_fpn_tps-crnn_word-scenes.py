# End-to-end text spotting on word scenes: the word detector of
# faster-rcnn_r18_fpn_word-scenes_detection.py plus a recognition branch -- a TPS RoI
# rectifier samples each word from the image at 32x100 into a CRNN / CTC recognizer.
# The recognition loss trains the rectifier and the recognizer; the outputs are boxes,
# readings and text polygons (the rectified crops' borders). Scored end to end.
# Two optimizers: the detector's SGD, and Adam for the recognition branch (a CTC
# recognizer stays on its loss plateau under the detector's SGD).
_base_ = './faster-rcnn_r18_fpn_word-scenes_detection.py'

dictionary = dict(characters='0123456789abcdefghijklmnopqrstuvwxyz', lower=True, unknown='ignore')
model = dict(
    type='TextSpotter',
    roi_head=dict(
        type='SpottingRoIHead',
        recog_inputs='image',
        recog_roi_extractor=dict(
            type='TPSRoIRectifier',
            roi_layer=dict(type='RoIAlign', output_size=(32, 100), sampling_ratio=2),
            out_channels=3, featmap_strides=[1],
            num_control_points=16, control_point_range=1.5,
            loc_net=dict(type='conv', channels=(16, 32, 64), hidden_dims=(128, ), norm=True),
            loc_input_size=(32, 64), context_factor=1.2,
            regularizers=[dict(type='BendingEnergyLoss', weight=0.01)]),
        # a crop-level recognizer's weights load with init_cfg=dict(type='Pretrained', checkpoint=...)
        recognizer=dict(
            type='CTCTextRecognizer', dictionary=dictionary, in_channels=3,
            backbone=dict(type='CRNNBackbone', channels=(16, 32, 64, 64, 96)),
            decoder=dict(type='BiLSTMCTCHead', hidden_size=96, num_layers=2, dropout=0.1)),
        max_recog_rois_per_img=16,
        recog_loss_weight=1.0,
        polygon_points_per_edge=7))

max_iters = 2000  # as the word detector's schedule
optim_wrapper = dict(
    _delete_=True,
    constructor='SubmoduleOptimWrapperConstructor',
    default=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
                 clip_grad=dict(max_norm=10, norm_type=2)),
    recognition=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3), clip_grad=dict(max_norm=5.0),
                     submodules=['roi_head.recognizer', 'roi_head.recog_roi_extractor']))
# the detector's schedule, and the crop-level recognizer's (warm-up, then a linear decay
# over the last 20 %)
param_scheduler = dict(
    _delete_=True,
    default=[
        dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
        dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
             milestones=[int(max_iters * 0.75), int(max_iters * 0.9)], gamma=0.1)],
    recognition=[
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
        dict(type='LinearLR', start_factor=1.0, end_factor=0.05, by_epoch=False, begin=int(max_iters * 0.8),
             end=max_iters)])

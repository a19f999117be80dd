# The affine RoI rectifier shared by the R-CNN configs (referenced as {{_base_.rectifier}}).
# It holds no custom_imports: each leaf config says it (two bases may not share a key).

rectifier = dict(
    type='AffineRoIRectifier',
    family=dict(type='affine', max_linear_deviation=0.5, max_translation=0.5),
    loc_net=dict(type='conv', channels=(64, ), hidden_dims=(128, )),
    loc_input_size=7,
    sampling_ratio=2,  # mmdet's RoIAlign default is 0 (adaptive); a rectifier needs a fixed ratio
    context_factor=1.2,
    regularizers=[dict(type='AreaBoundLoss', min_scale=0.25, max_scale=2.0, weight=0.1)])

# Transform statistics (with collapse warnings) in the training log, and drawings of the
# sampled RoIs during val / test through the visualizer's backends (local / TensorBoard).
custom_hooks = [
    dict(type='RectifierStatsHook', interval=50),
    dict(type='RectifierVisualizationHook', interval=200),
]

# The thin-plate-spline RoI rectifier (4x4 control points) shared by the R-CNN configs
# (referenced as {{_base_.rectifier}}). Each leaf config holds the custom_imports.

rectifier = dict(
    type='TPSRoIRectifier',
    num_control_points=16,
    control_point_range=1.5,
    loc_net=dict(type='conv', channels=(64, ), hidden_dims=(128, )),
    loc_input_size=7,
    sampling_ratio=2,
    context_factor=1.2,
    regularizers=[dict(type='BendingEnergyLoss', weight=0.01)])

# Transform statistics (with collapse warnings) in the training log, and drawings of the
# sampled RoIs during val / test through the visualizer's backends (local / TensorBoard).
custom_hooks = [
    dict(type='RectifierStatsHook', interval=50),
    dict(type='RectifierVisualizationHook', interval=200),
]

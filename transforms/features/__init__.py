"""Stage 2: landmarks → features. Pure NumPy, no Beam or MediaPipe.

landmarks   ClipPoints, one clip's stored landmarks as every version receives them, and the frame layout
version     FeatureVersion: what a feature version is, the one interface the rest of the pipeline asks
registry    --feature_version's name → its FeatureVersion (built-in names, or an import path)
verdict     ClipVerdict and Measures: what a version says about one clip
v1          the team's exact definition (../shared/spec/features-v1.md), the default
v2          time kept, absent parts 0 and flagged, clips with no signing rejected (docs/features-v2.md)
gaps, hands, mirror   v2's gap filling, every version's dominant hand, left/right mirroring
"""

"""Privacy filters against face recognition (chapter 5): APF (the probe on the user's device,
the filter, its transfer networks), FaceNet and dlib's recogniser as the systems to fool, and
face verification (pairs, distances, true-accept rate, photo quality).

The modules are imported by name (``from advlib.faces import apf``): FaceNet and dlib load
their weights and optional packages only when a chapter asks for them.
"""

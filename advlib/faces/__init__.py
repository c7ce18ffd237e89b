"""Privacy filters against face recognition (chapter 5): APF (the probe on the user's device,
the filter, its transfer networks), FaceNet and dlib's recogniser as the systems to fool, and
face verification (pairs, distances, true-accept rate, photo quality).

The modules are imported by name (``from advlib.faces import apf``): this package imports
none of them, so importing it loads nothing heavy.
"""

"""Paraphrase templates (at least three per question type)."""

YN = ("Is {S} {rel} {O}?", "Would you say that {S} is {rel} {O}?", "Is it true that {S} is {rel} {O}?",
      "Looking at the image, is {S} {rel} {O}?")
YN_OPPOSITE = ("If you viewed the scene from the opposite side, would {S} be {rel} {O}?",
               "Imagine walking around to the other side of the scene and looking back toward the camera: is {S} {rel} {O}?",
               "Seen from the opposite viewpoint, is {S} {rel} {O}?")
CHOICE = ("Which is {cmp}: {X} or {Y}?", "Between {X} and {Y}, which one is {cmp}?", "Of {X} and {Y}, which is {cmp}?",
          "{Xc} or {Y}: which one is {cmp}?")
ANCHOR_YN = ("Is {S} {rel} {C} than {O} is?", "Compared with {O}, is {S} {rel} {C}?",
             "Relative to {C}, is {S} {rel} it than {O} is?")
ANCHOR_CHOICE = ("Which is {cmp} {C}: {X} or {Y}?", "Between {X} and {Y}, which one is {cmp} {C}?",
                 "Is {X} or {Y} {cmp} {C}?")
ANCHOR3 = ("Which of {L} is {sup} {C}?", "Among {L}, which one is {sup} {C}?", "Of {L}, which is {sup} {C}?")
ORDER = {
    "3p_order_distance_camera": ("Order {L} from nearest to farthest from the camera.",
                                 "Sort {L} by their distance from the camera, nearest first.",
                                 "List {L} from the one closest to the camera to the one farthest away."),
    "3p_order_height": ("Order {L} from tallest to shortest.", "Sort {L} by height, tallest first.",
                        "List {L} from the tallest object to the shortest one."),
    "3p_order_size": ("Order {L} from largest to smallest.", "Sort {L} by size (box volume), largest first.",
                      "List {L} from the biggest object to the smallest one."),
}
COUNT = ("How many {P} are there in the image?", "Count the {P} in the image.",
         "What is the number of {P} in the image?")
METRIC = {
    "2p_distance": ("What is the distance between {A} and {B}?", "How far is {A} from {B}?",
                    "How far apart are {A} and {B}, centre to centre?"),
    "2p_horizontal_distance": ("What is the horizontal distance between {A} and {B}?",
                               "Measured along the ground, how far apart are {A} and {B}?",
                               "How far is {A} from {B} horizontally?"),
    "2p_vertical_distance": ("What is the vertical distance between {A} and {B}?",
                             "How far apart are {A} and {B} vertically?",
                             "How much higher or lower is the centre of {A} than the centre of {B}?"),
    # width / length are the shorter / longer horizontal side (schemas/question_types.md): a box's front is not
    # known semantically, so no paraphrase may call an extent "front-to-back" or "side-to-side"
    "1p_width": ("How wide is {A}?", "What is the width of {A}?",
                 "Estimate the width of {A} (its shorter horizontal side)."),
    "1p_height": ("How tall is {A}?", "What is the height of {A}?", "Estimate the height of {A}."),
    "1p_length": ("How long is {A}?", "What is the length of {A}?",
                  "Estimate the length of {A} (its longer horizontal side)."),
    "1p_distance_camera": ("How far is {A} from the camera?", "What is the distance between the camera and {A}?",
                           "How far away from the camera is {A}?"),
    "2p_clock": ("If you stand at {A} facing the same direction as the camera, at what clock position is {B}?",
                 "Facing the camera's viewing direction from {A}, in which clock direction is {B}?",
                 "Standing at {A} and looking where the camera looks, where is {B} on a clock face?"),
    "2p_clock_opposite": ("Standing at {A} and facing back toward the camera, at what clock position is {B}?",
                          "If you stand at {A} and face the opposite way to the camera, in which clock direction is {B}?",
                          "Seen from the opposite viewpoint, facing the camera from {A}, where is {B} on a clock face?"),
}
GROUND = {
    "det_all": ("Detect all objects in the image and give their 3D bounding boxes.",
                "Find every object in the image in 3D.",
                "Output the 3D bounding boxes of all objects in the image."),
    "ground_single": ("Locate {A} in 3D.", "Where is {A}? Give its 3D bounding box.",
                      "Output the 3D bounding box of {A}."),
    "ground_multi": ("Locate all {P} in 3D.", "Find every {c} in the image and give their 3D bounding boxes.",
                     "Output the 3D bounding boxes of all {P}."),
    "ground_referring": ("Locate {A} in 3D.", "Where is {A}? Give its 3D bounding box.",
                         "Output the 3D bounding box of {A}."),
}
FORMAT_HINT = {
    "n3d": " Answer with bbox_i=Bbox(class,u,v,z,angle,sx,sy,sz).",
    "cam": " Answer with class: [x, y, z, w, h, l, yaw] in camera coordinates (metres, radians).",
    "qwen": ' Answer in JSON: [{"bbox_3d": [x, y, z, x_size, y_size, z_size, roll, pitch, yaw], "label": "class"}].',
}

"""The real competitions' class and column names (a handful of classes where the real ones number
in the hundreds), shared by the builders and the graders."""

from __future__ import annotations

# dog-breed-identification: 5 of the 120 breeds, in the real (alphabetical) column order
DOG_BREEDS = ["beagle", "chihuahua", "golden_retriever", "pug", "samoyed"]

PLANT_2020_COLUMNS = ["healthy", "multiple_diseases", "rust", "scab"]

# plant-pathology-2021-fgvc8: the 6 labels and label sets as the real train.csv writes them
PLANT_2021_LABELS = ["healthy", "scab", "frog_eye_leaf_spot", "rust", "complex", "powdery_mildew"]
PLANT_2021_SETS = ["healthy", "scab", "frog_eye_leaf_spot", "rust", "complex", "powdery_mildew",
                   "scab frog_eye_leaf_spot", "frog_eye_leaf_spot complex", "rust frog_eye_leaf_spot",
                   "scab frog_eye_leaf_spot complex", "rust complex", "powdery_mildew complex"]

# ranzcr: train.csv holds all 11; mlebench's CLASSES (the sample submission and the grader) only 9
RANZCR_ALL = ["ETT - Abnormal", "ETT - Borderline", "ETT - Normal", "NGT - Abnormal", "NGT - Borderline",
              "NGT - Incompletely Imaged", "NGT - Normal", "CVC - Abnormal", "CVC - Borderline",
              "CVC - Normal", "Swan Ganz Catheter Present"]
RANZCR_GRADED = RANZCR_ALL[:9]
RANZCR_UID_PREFIX = "1.2.826.0.1.3680043.8.498."

# whale-categorization-playground: the 4 whales the real sample submission names, 4 more
WHALES = ["w_1287fbc", "w_98baff9", "w_7554f44", "w_1eafe46", "w_e15442c", "w_f48451c", "w_3de579a", "w_23a388d"]
WHALE_SAMPLE = "new_whale w_1287fbc w_98baff9 w_7554f44 w_1eafe46"

SEEDLINGS = ["Black-grass", "Charlock", "Common Chickweed", "Maize", "Sugar beet"]

CASSAVA_MAP = {"0": "Cassava Bacterial Blight (CBB)", "1": "Cassava Brown Streak Disease (CBSD)",
               "2": "Cassava Green Mottle (CGM)", "3": "Cassava Mosaic Disease (CMD)", "4": "Healthy"}

SIIM_TRAIN_COLUMNS = ["image_name", "patient_id", "sex", "age_approx", "anatom_site_general_challenge",
                      "diagnosis", "benign_malignant", "target"]
SIIM_SITES = ["torso", "lower extremity", "upper extremity", "head/neck", "palms/soles", "oral/genital"]
SIIM_BENIGN = ["unknown", "nevus", "seborrheic keratosis", "lentigo NOS"]

PETFINDER_FEATURES = ["Subject Focus", "Eyes", "Face", "Near", "Action", "Accessory", "Group", "Collage",
                      "Human", "Occlusion", "Info", "Blur"]

IMET_ATTRIBUTES = ["country::france", "culture::french", "culture::japanese", "medium::oil", "medium::paper",
                   "tags::flowers", "tags::men", "tags::women"]

# herbarium-2020-fgvc7: category ids (0 is the sample submission's answer), nested as 000/00, 155/04 ...
HERBARIUM_CATEGORIES = [0, 3, 15504, 15672, 23079, 31000]
HERBARIUM_SPECIES = [("Asteraceae", "Symphyotrichum", "Symphyotrichum novae-angliae"),
                     ("Poaceae", "Bromus", "Bromus inermis"), ("Fabaceae", "Lupinus", "Lupinus perennis"),
                     ("Rosaceae", "Rosa", "Rosa carolina"), ("Lamiaceae", "Salvia", "Salvia lyrata"),
                     ("Pinaceae", "Pinus", "Pinus strobus")]

# iwildcam-2019-fgvc6: a few of the 23 category ids (0 empty, 1 deer, 10 fox, 11 coyote, 19 opossum)
IWILDCAM_CATEGORIES = [0, 1, 10, 11, 19]
IWILDCAM_TRAIN_COLUMNS = ["category_id", "date_captured", "file_name", "frame_num", "id", "location",
                          "rights_holder", "seq_id", "seq_num_frames", "width", "height"]

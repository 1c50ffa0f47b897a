"""Labels: taxonomies, label sets, labeling functions, label models, annotation, label quality."""

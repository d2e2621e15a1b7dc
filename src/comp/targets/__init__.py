"""Target kinds: what one row's target is, and the decisions fitted out of fold that turn probabilities into hard answers."""

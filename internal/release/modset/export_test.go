package modset

// CheckSums exposes checkSums to the black-box tests.
var CheckSums = checkSums

package modset

// CheckSums exposes checkSums to the black-box tests.
var CheckSums = checkSums

// CommandName exposes commandName to the black-box tests.
var CommandName = commandName

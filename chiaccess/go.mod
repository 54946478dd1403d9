module github.com/cfaccess/cfaccess/chiaccess

go 1.26.0

require (
	github.com/cfaccess/cfaccess v0.1.0
	github.com/go-chi/chi/v5 v5.5.0
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/go-json-experiment/json v1.27.2 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	golang.org/x/crypto v0.48.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.41.0 // indirect
	golang.org/x/time v0.9.0 // indirect
)

replace github.com/cfaccess/cfaccess => ../

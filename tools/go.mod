module github.com/stoq-go/stoq/tools

go 1.26.0

require (
	github.com/stoq-go/stoq/core/v3 v3.0.0
	golang.org/x/mod v0.43.0
)

require (
	github.com/BurntSushi/toml v1.4.1-0.20240526193622-a339e1f7089c // indirect
	github.com/Masterminds/semver/v3 v3.5.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	golang.org/x/exp/typeparams v0.0.0-20231108232855-2478ac86f678 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/tools v0.52.0 // indirect
	honnef.co/go/tools v0.8.2 // indirect
)

replace github.com/stoq-go/stoq/core/v3 => ../core

tool honnef.co/go/tools/cmd/staticcheck

module github.com/stoq-go/stoq/cli

go 1.26

require (
	github.com/spf13/cobra v1.10.2
	github.com/stoq-go/stoq/core v0.0.0-00010101000000-000000000000
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	gopkg.in/ini.v1 v1.68.0 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)

replace github.com/stoq-go/stoq/core => ../core

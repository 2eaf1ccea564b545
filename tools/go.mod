module github.com/stoq-go/stoq/tools

go 1.26

require github.com/stoq-go/stoq/core v0.0.0-00010101000000-000000000000

replace github.com/stoq-go/stoq/core => ../core

module github.com/stoq-go/stoq/plugins/pecarve

go 1.26

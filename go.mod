module github.com/regnotify/notifications

go 1.25.0

require (
	github.com/docker/libtrust v0.0.0-20160708172513-aabc10ec26b7
	github.com/google/uuid v1.6.0
	github.com/opencontainers/go-digest v1.0.0
	github.com/sirupsen/logrus v1.10.2
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	go.yaml.in/yaml/v3 v3.0.5
)

require golang.org/x/sys v0.13.0 // indirect

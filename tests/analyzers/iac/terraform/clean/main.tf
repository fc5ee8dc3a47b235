resource "aws_security_group" "ssh" {
  name        = "ssh-from-office"
  description = "SSH access from the office network"

  ingress {
    description = "SSH"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["10.20.0.0/16"]
  }
}

resource "aws_network_interface" "bastion" {
  subnet_id       = "subnet-0123456789abcdef0"
  security_groups = [aws_security_group.ssh.id]
}
